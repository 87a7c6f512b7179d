import type { ReactNode } from 'react';
import { Box, Text } from 'ink';
import { useTone } from './theme.js';

/** The ❯ beside the highlighted entry of a picker (ink-select-input's indicatorComponent). */
export function PickerIndicator({ isSelected = false }: { isSelected?: boolean }) {
  const tone = useTone();
  return (
    <Box marginRight={1}>
      <Text color={isSelected ? tone('cyan') : undefined}>{isSelected ? '❯' : ' '}</Text>
    </Box>
  );
}

/** A picker entry: its headline, and one dim line of detail under it; both cut to the width, never wrapped. */
export function PickerItem({ isSelected, headline, detail, columns }: { isSelected: boolean; headline: ReactNode; detail: string; columns: number }) {
  const tone = useTone();
  return (
    <Box flexDirection="column" width={columns - 2}>
      <Text bold={isSelected} color={isSelected ? tone('cyan') : undefined} wrap="truncate-end">
        {headline}
      </Text>
      <Text dimColor wrap="truncate-end">
        {'  '}
        {detail}
      </Text>
    </Box>
  );
}
