import { Text } from 'ink';

/** A line being typed (the keys are the owning view's): label, text, cursor. */
export function TextPrompt({ label, text }: { label: string; text: string }) {
  return (
    <Text>
      {label} <Text bold>{text}</Text>
      <Text inverse> </Text>
      <Text dimColor>  (Enter to confirm, Esc to go back)</Text>
    </Text>
  );
}
