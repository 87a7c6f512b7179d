import { Text } from 'ink';
import { useTone } from '../theme.js';

/** On every screen of a dry run: nothing that changes state will run. */
export function DryRunBanner({ dryRun }: { dryRun: boolean }) {
  const tone = useTone();
  if (!dryRun) return null;
  return (
    <Text bold color={tone('yellow')} wrap="truncate-end">
      DRY RUN — probes and read-only steps run; every change is recorded, not made
    </Text>
  );
}
