/** Labelled form controls with a hint and the server's errors for the field shown beside it. */
import type { ComponentChildren, TargetedEvent } from 'preact';
import { useId } from 'preact/hooks';
import { errorsFor } from '../api';
import type { FieldError } from '../types';

interface Common {
  label: ComponentChildren;
  /** API field path, used to pick this field's server errors and as data-testid `field-<name>`. */
  name: string;
  errors?: FieldError[];
  hint?: ComponentChildren;
  disabled?: boolean;
  class?: string;
}

function describedBy(id: string, hint: unknown, errs: FieldError[]): string | undefined {
  const ids = [hint ? `${id}-hint` : '', errs.length ? `${id}-error` : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

export function FieldMessages({ id, hint, errs }: { id: string; hint?: ComponentChildren; errs: FieldError[] }) {
  return (
    <>
      {hint ? <p class="hint" id={`${id}-hint`}>{hint}</p> : null}
      {errs.length ? (
        <p class="field-error" id={`${id}-error`} data-testid="field-error">
          {errs.map((e) => e.message).join('; ')}
        </p>
      ) : null}
    </>
  );
}

export function TextField(
  props: Common & {
    value: string;
    onInput: (value: string) => void;
    type?: 'text' | 'email' | 'password' | 'search' | 'url' | 'datetime-local';
    required?: boolean;
    readOnly?: boolean;
    autoComplete?: string;
    placeholder?: string;
    pattern?: string;
    spellcheck?: boolean;
  },
) {
  const id = useId();
  const errs = errorsFor(props.errors ?? [], props.name);
  return (
    <div class={`field ${props.class ?? ''}`} data-testid={`field-${props.name}`}>
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={(props.type ?? 'text') as 'text'}
        value={props.value}
        required={props.required}
        readOnly={props.readOnly}
        disabled={props.disabled}
        autoComplete={props.autoComplete}
        placeholder={props.placeholder}
        pattern={props.pattern}
        spellcheck={props.spellcheck}
        aria-invalid={errs.length ? 'true' : undefined}
        aria-describedby={describedBy(id, props.hint, errs)}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
      <FieldMessages id={id} hint={props.hint} errs={errs} />
    </div>
  );
}

export function NumberField(
  props: Common & { value: number; onInput: (value: number) => void; min?: number; max?: number; step?: number; unit?: string; required?: boolean },
) {
  const id = useId();
  const errs = errorsFor(props.errors ?? [], props.name);
  return (
    <div class={`field ${props.class ?? ''}`} data-testid={`field-${props.name}`}>
      <label for={id}>{props.label}</label>
      <div class="with-unit">
        <input
          id={id}
          name={props.name}
          type="number"
          inputMode="numeric"
          value={Number.isFinite(props.value) ? String(props.value) : ''}
          min={props.min}
          max={props.max}
          step={props.step ?? 1}
          required={props.required}
          disabled={props.disabled}
          aria-invalid={errs.length ? 'true' : undefined}
          aria-describedby={describedBy(id, props.hint, errs)}
          onInput={(e) => props.onInput(e.currentTarget.value === '' ? Number.NaN : Number(e.currentTarget.value))}
        />
        {props.unit ? <span class="unit" aria-hidden="true">{props.unit}</span> : null}
      </div>
      <FieldMessages id={id} hint={props.hint} errs={errs} />
    </div>
  );
}

export function SelectField<T extends string>(
  props: Common & { value: T; onChange: (value: T) => void; options: ReadonlyArray<{ value: T; label: string }>; required?: boolean },
) {
  const id = useId();
  const errs = errorsFor(props.errors ?? [], props.name);
  return (
    <div class={`field ${props.class ?? ''}`} data-testid={`field-${props.name}`}>
      <label for={id}>{props.label}</label>
      <select
        id={id}
        name={props.name}
        value={props.value}
        required={props.required}
        disabled={props.disabled}
        aria-invalid={errs.length ? 'true' : undefined}
        aria-describedby={describedBy(id, props.hint, errs)}
        onChange={(e) => props.onChange(e.currentTarget.value as T)}
      >
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <FieldMessages id={id} hint={props.hint} errs={errs} />
    </div>
  );
}

export function TextAreaField(
  props: Common & { value: string; onInput: (value: string) => void; rows?: number; placeholder?: string; monospace?: boolean; required?: boolean },
) {
  const id = useId();
  const errs = errorsFor(props.errors ?? [], props.name);
  return (
    <div class={`field ${props.class ?? ''}`} data-testid={`field-${props.name}`}>
      <label for={id}>{props.label}</label>
      <textarea
        id={id}
        name={props.name}
        value={props.value}
        rows={props.rows ?? 3}
        placeholder={props.placeholder}
        required={props.required}
        disabled={props.disabled}
        class={props.monospace ? 'mono' : undefined}
        spellcheck={false}
        aria-invalid={errs.length ? 'true' : undefined}
        aria-describedby={describedBy(id, props.hint, errs)}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
      <FieldMessages id={id} hint={props.hint} errs={errs} />
    </div>
  );
}

export function CheckboxField(props: Common & { checked: boolean; onChange: (checked: boolean) => void }) {
  const id = useId();
  const errs = errorsFor(props.errors ?? [], props.name);
  return (
    <div class={`field checkbox ${props.class ?? ''}`} data-testid={`field-${props.name}`}>
      <input
        id={id}
        name={props.name}
        type="checkbox"
        checked={props.checked}
        disabled={props.disabled}
        aria-invalid={errs.length ? 'true' : undefined}
        aria-describedby={describedBy(id, props.hint, errs)}
        onChange={(e) => props.onChange(e.currentTarget.checked)}
      />
      <label for={id}>{props.label}</label>
      <FieldMessages id={id} hint={props.hint} errs={errs} />
    </div>
  );
}

/** A fieldset of checkboxes choosing a subset of `options`. */
export function CheckboxGroup<T extends string>(
  props: Common & { value: readonly T[]; onChange: (value: T[]) => void; options: ReadonlyArray<{ value: T; label: string }> },
) {
  const id = useId();
  const errs = errorsFor(props.errors ?? [], props.name);
  const toggle = (v: T, on: boolean) => {
    const set = new Set(props.value);
    if (on) set.add(v);
    else set.delete(v);
    props.onChange(props.options.map((o) => o.value).filter((o) => set.has(o)));
  };
  return (
    <fieldset
      class={`field group ${props.class ?? ''}`}
      data-testid={`field-${props.name}`}
      aria-invalid={errs.length ? 'true' : undefined}
      aria-describedby={describedBy(id, props.hint, errs)}
    >
      <legend>{props.label}</legend>
      <div class="choices">
        {props.options.map((o) => (
          <label key={o.value} class="choice">
            <input type="checkbox" checked={props.value.includes(o.value)} disabled={props.disabled} onChange={(e) => toggle(o.value, e.currentTarget.checked)} />
            <span>{o.label}</span>
          </label>
        ))}
      </div>
      <FieldMessages id={id} hint={props.hint} errs={errs} />
    </fieldset>
  );
}

/** Errors the form has no field for, listed at the top of the form. */
export function FormErrors({ errors, known }: { errors: FieldError[]; known: string[] }) {
  const rest = errors.filter((e) => !known.some((k) => e.field === k || e.field.startsWith(`${k}.`)));
  if (!rest.length) return null;
  return (
    <div class="form-errors" role="alert" data-testid="form-errors">
      <ul>
        {rest.map((e, i) => (
          <li key={i}>{e.field ? `${e.field}: ${e.message}` : e.message}</li>
        ))}
      </ul>
    </div>
  );
}

export type SubmitEvent = TargetedEvent<HTMLFormElement, Event>;
