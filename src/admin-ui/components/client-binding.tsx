/** How the names a TLS client certificate may request bind to it (namePolicy.clientBinding). */
import type { ClientBinding, ClientBindingMode, FieldError } from '../types';
import { SelectField } from './fields';
import { ListField } from './list-field';

const MODES: ReadonlyArray<{ value: ClientBindingMode; label: string }> = [
  { value: 'match', label: 'Match — the subject and SANs must be the client certificate\'s own' },
  { value: 'anchor-names', label: 'Per trust anchor — within the names configured for the anchor it chains to' },
  { value: 'free', label: 'Free — NOT bound: any client certificate may request any name the rules allow' },
];

export function ClientBindingField(props: { value: ClientBinding; onChange: (value: ClientBinding) => void; errors: FieldError[] }) {
  const { value, errors } = props;
  return (
    <>
      <SelectField
        label="Names bound to the TLS client certificate"
        name="namePolicy.clientBinding.mode"
        value={value.mode}
        onChange={(mode) => props.onChange({ ...value, mode })}
        options={MODES}
        errors={errors}
        hint="Certificates with id-kp-cmcRA (an RA requesting for others) are exempt from Match, not from Per trust anchor."
      />
      {value.mode === 'free' ? (
        <p class="hint warning" data-testid="binding-free">
          Free: holding any certificate under these trust anchors is enough to get a certificate for any name.
        </p>
      ) : null}
      {value.mode === 'match' ? (
        <ListField
          label="Bound subject attributes"
          name="namePolicy.clientBinding.attributes"
          hint="Only these must equal the certificate's, e.g. CN and serialNumber; empty: the whole subject. One a line."
          value={value.attributes}
          onChange={(attributes) => props.onChange({ ...value, attributes })}
          errors={errors}
          rows={2}
        />
      ) : null}
      {value.mode === 'anchor-names' ? (
        <div class="field" data-testid="binding-anchors">
          <span class="label">Names per trust anchor</span>
          {value.anchors.length === 0 ? (
            <p class="hint">None configured: every request is refused. Set them with <code>estuary profile set --anchor-names</code> or the API.</p>
          ) : (
            <ul>
              {value.anchors.map((a) => (
                <li key={a.fingerprintSha256}>
                  <code>{a.fingerprintSha256.slice(0, 16)}…</code>: {a.names.join(', ') || '(none)'}
                </li>
              ))}
            </ul>
          )}
        </div>
      ) : null}
    </>
  );
}
