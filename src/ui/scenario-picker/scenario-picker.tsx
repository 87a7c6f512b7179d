import { Box, Text, useInput } from 'ink';
import SelectInput from 'ink-select-input';
import type { Scenario } from '../../drill/scenarios.js';
import type { Fault } from '../../lab/faults.js';
import { useDigitSafeSelect } from '../runbook-picker/use-digit-safe-select.js';
import { PickerIndicator, PickerItem } from '../picker-item.js';

export interface ScenarioPickerProps {
  scenarios: Scenario[];
  onPick: (fault: Fault) => void;
  /** Ctrl-C, Esc or q: leave without starting anything */
  onCancel: () => void;
  members: number;
  columns?: number;
}

/**
 * `drill` without --fault: which failure to rehearse. ↑/↓ and Enter, like
 * the runbook picker; digits do nothing (useDigitSafeSelect).
 */
export function ScenarioPicker({ scenarios, onPick, onCancel, members, columns = 80 }: ScenarioPickerProps) {
  const { onHighlight } = useDigitSafeSelect<Fault>(scenarios[0]?.fault, onPick, true);
  useInput((input, key) => {
    if ((key.ctrl && input === 'c') || key.escape || input === 'q') onCancel();
  });
  const byFault = new Map(scenarios.map((s) => [s.fault, s]));
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        Which failure to rehearse on a {members}-member lab? (↑/↓, Enter starts it; q leaves)
      </Text>
      <SelectInput
        items={scenarios.map((s) => ({ key: s.fault, label: s.fault, value: s.fault }))}
        onHighlight={onHighlight}
        indicatorComponent={PickerIndicator}
        itemComponent={({ isSelected = false, label }) => {
          const scenario = byFault.get(label as Fault);
          return <PickerItem isSelected={isSelected} headline={`${label} — ${scenario?.title ?? ''}`} detail={scenario?.detail ?? ''} columns={columns} />;
        }}
      />
    </Box>
  );
}
