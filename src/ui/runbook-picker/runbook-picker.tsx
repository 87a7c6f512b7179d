import { Box, Text } from 'ink';
import SelectInput from 'ink-select-input';
import type { RunbookChoice } from '../session.js';
import { useTone } from '../theme.js';
import { PickerIndicator, PickerItem } from '../picker-item.js';
import { useDigitSafeSelect } from './use-digit-safe-select.js';

export interface RunbookPickerProps {
  choices: RunbookChoice[];
  problems?: string[];
  onPick: (id: string) => void;
  isActive?: boolean;
  /** how many runbooks fit on screen (the rest scroll) */
  limit?: number;
  columns?: number;
}

/**
 * The runbook picker: the recommended one first with the
 * reason, then the others that apply, one line of description each.
 * Enter picks; digits do nothing (see useDigitSafeSelect).
 */
export function RunbookPicker({ choices, problems = [], onPick, isActive = true, limit, columns = 80 }: RunbookPickerProps) {
  const tone = useTone();
  const { onHighlight } = useDigitSafeSelect(choices[0]?.id, onPick, isActive);
  const items = choices.map((c) => ({ key: c.id, label: c.id, value: c.id }));
  const byId = new Map(choices.map((c) => [c.id, c]));
  if (choices.length === 0) {
    return (
      <Box flexDirection="column">
        <Text color={tone('yellow')}>No shipped runbook applies to this verdict.</Text>
        {problems.map((p, i) => (
          <Text key={i} dimColor>
            {p}
          </Text>
        ))}
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">Choose a runbook (↑/↓, Enter opens it; nothing runs until you confirm a step)</Text>
      <SelectInput
        items={items}
        {...(limit !== undefined ? { limit: Math.max(1, limit) } : {})}
        isFocused={isActive}
        onHighlight={onHighlight}
        indicatorComponent={PickerIndicator}
        itemComponent={({ isSelected = false, label }) => {
          const choice = byId.get(label);
          if (!choice) return <Text>{label}</Text>;
          const headline = (
            <>
              {choice.id}
              {choice.recommended ? <Text color={tone('green')}> (recommended)</Text> : null} — {choice.title}
            </>
          );
          const detail = choice.recommended ? `${choice.reason}. ${choice.description}` : `${choice.description} (${choice.reason})`;
          return <PickerItem isSelected={isSelected} headline={headline} detail={detail} columns={columns} />;
        }}
      />
      {problems.map((p, i) => (
        <Text key={i} dimColor wrap="truncate-end">
          not offered: {p}
        </Text>
      ))}
    </Box>
  );
}
