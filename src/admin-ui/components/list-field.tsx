/** A textarea edited as a list, one entry a line (the text is kept while typing). */
import { useState } from 'preact/hooks';
import { lines } from '../format';
import type { FieldError } from '../types';
import { TextAreaField } from './fields';

export function ListField(props: {
  label: string;
  name: string;
  value: string[];
  onChange: (value: string[]) => void;
  errors?: FieldError[];
  hint?: string;
  placeholder?: string;
  rows?: number;
  disabled?: boolean;
}) {
  const [text, setText] = useState(props.value.join('\n'));
  return (
    <TextAreaField
      label={props.label}
      name={props.name}
      value={text}
      rows={props.rows ?? 3}
      hint={props.hint}
      placeholder={props.placeholder}
      errors={props.errors}
      disabled={props.disabled}
      monospace
      onInput={(t) => {
        setText(t);
        props.onChange(lines(t));
      }}
    />
  );
}

/** "ATTRIBUTE=REGEX" lines as a record. */
export function PatternsField(props: {
  value: Record<string, string>;
  onChange: (value: Record<string, string>) => void;
  errors?: FieldError[];
  disabled?: boolean;
}) {
  const [text, setText] = useState(
    Object.entries(props.value)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
  );
  return (
    <TextAreaField
      label="Subject attribute patterns"
      name="namePolicy.subjectPatterns"
      value={text}
      rows={3}
      monospace
      hint="One ATTRIBUTE=REGEX a line; the whole value must match, e.g. CN=^sensor-[0-9]+$"
      errors={props.errors}
      disabled={props.disabled}
      onInput={(t) => {
        setText(t);
        const out: Record<string, string> = {};
        for (const line of lines(t)) {
          const eq = line.indexOf('=');
          if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 1);
          else out[line] = '';
        }
        props.onChange(out);
      }}
    />
  );
}
