import { useInput } from 'ink';
import { useCallback, useRef } from 'react';

/**
 * ink-select-input selects an item as soon as a digit 1–9 is typed: at 3 a.m.
 * a stray digit must not start a runbook. So the list is given no onSelect
 * (its digit shortcut then does nothing) and only follows the highlight
 * (onHighlight, moved by ↑/↓/j/k); Enter, seen here, selects what is highlighted.
 */
export function useDigitSafeSelect<T>(initial: T | undefined, onSelect: (value: T) => void, isActive: boolean) {
  const highlighted = useRef<T | undefined>(initial);
  const onHighlight = useCallback((item: { value: T }) => {
    highlighted.current = item.value;
  }, []);
  useInput(
    (_input, key) => {
      if (key.return && highlighted.current !== undefined) onSelect(highlighted.current);
    },
    { isActive },
  );
  return { onHighlight };
}
