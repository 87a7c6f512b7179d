import { createContext, useContext } from 'react';
import type { Color } from '../util/color.js';

/**
 * Colour on or off for the whole view (NO_COLOR, --no-color): components ask
 * `tone(color)` for an Ink colour prop, which is undefined when colour is off,
 * so nothing they render carries a colour escape.
 */
export const ColorContext = createContext<boolean>(true);

export function useTone(): (color: Color) => string | undefined {
  const enabled = useContext(ColorContext);
  return (color) => (enabled && color !== 'bold' ? color : undefined);
}
