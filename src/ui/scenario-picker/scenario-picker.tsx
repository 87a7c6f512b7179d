import { Box, Text, useInput } from 'ink';
import { useEffect, useRef, useState } from 'react';
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
 * the runbook picker; digits do nothing (useDigitSafeSelect). The choice
 * replaces the list, and onPick is called once that frame is committed: the
 * picker's last frame stays in the scrollback, and a ↓ and Enter read
 * together would otherwise leave it pointing at the entry before the one
 * chosen.
 */
export function ScenarioPicker({ scenarios, onPick, onCancel, members, columns = 80 }: ScenarioPickerProps) {
  const [picked, setPicked] = useState<Scenario | undefined>();
  const byFault = new Map(scenarios.map((s) => [s.fault, s]));
  const { onHighlight } = useDigitSafeSelect<Fault>(scenarios[0]?.fault, (fault) => setPicked(byFault.get(fault)), picked === undefined);
  useInput(
    (input, key) => {
      if ((key.ctrl && input === 'c') || key.escape || input === 'q') onCancel();
    },
    { isActive: picked === undefined },
  );
  // once: a parent that renders again with another onPick does not pick twice
  const reported = useRef(false);
  useEffect(() => {
    if (!picked || reported.current) return;
    reported.current = true;
    onPick(picked.fault);
  }, [picked, onPick]);
  if (picked) {
    return (
      <Text wrap="truncate-end">
        rehearsing <Text bold>{picked.fault}</Text> — {picked.title}
      </Text>
    );
  }
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
