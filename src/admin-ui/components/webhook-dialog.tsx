/** Adding a webhook endpoint: URL, events, expiring thresholds; then its secret, shown once. */
import { useState } from 'preact/hooks';
import { ApiError, api, describeError } from '../api';
import { useSubmit } from '../hooks';
import { announce } from '../status';
import type { FieldError } from '../types';
import { CopyButton } from './copy-button';
import { Dialog, DialogActions, DoneActions } from './dialog';
import { CheckboxField, CheckboxGroup, FormErrors, TextField, type SubmitEvent } from './fields';

export type WebhookEventType = 'request.pending' | 'cert.issued' | 'cert.revoked' | 'cert.expiring';

export interface WebhookEndpoint {
  id: number;
  url: string;
  events: WebhookEventType[];
  expiringDays: number[];
  description: string;
  createdBy: string;
  createdAt: string;
}

export const EVENT_LABELS: ReadonlyArray<{ value: WebhookEventType; label: string }> = [
  { value: 'request.pending', label: 'A request waits for approval (request.pending)' },
  { value: 'cert.issued', label: 'A certificate was issued (cert.issued)' },
  { value: 'cert.revoked', label: 'A certificate was revoked (cert.revoked)' },
  { value: 'cert.expiring', label: 'A certificate expires soon (cert.expiring)' },
];

function fieldErrorsOf(e: unknown): FieldError[] {
  if (e instanceof ApiError && e.fieldErrors.length) return e.fieldErrors;
  return [{ field: '', message: describeError(e) }];
}

export function AddWebhookDialog({ onClose, onChanged }: { onClose: () => void; onChanged: () => void }) {
  const [url, setUrl] = useState('https://');
  const [events, setEvents] = useState<WebhookEventType[]>(['request.pending', 'cert.issued', 'cert.revoked']);
  const [days, setDays] = useState('');
  const [description, setDescription] = useState('');
  const [allowHttp, setAllowHttp] = useState(false);
  const { busy, error: errors, setError, run } = useSubmit<FieldError[]>([], fieldErrorsOf);
  const [created, setCreated] = useState<{ endpoint: WebhookEndpoint; secret: string }>();

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const thresholds = days.split(',').map((d) => d.trim()).filter(Boolean).map(Number);
    if (thresholds.some((d) => !Number.isInteger(d) || d < 1 || d > 365)) {
      setError([{ field: 'expiringDays', message: 'whole numbers of days from 1 to 365, separated by commas' }]);
      return;
    }
    await run(async () => {
      const body = { url: url.trim(), events, description: description.trim(), ...(thresholds.length ? { expiringDays: thresholds } : {}), ...(allowHttp ? { allowHttp } : {}) };
      const result = await api.post<{ endpoint: WebhookEndpoint; secret: string }>('/api/webhooks', body);
      announce(`Webhook ${result.endpoint.url} added`);
      setCreated(result);
      onChanged();
    });
  };

  return (
    <Dialog title={created ? 'Webhook added' : 'New webhook'} onClose={onClose} testId="webhook-dialog">
      {created ? (
        <>
          <div class="one-time" data-testid="webhook-secret-box">
            <p>
              The signing secret of <strong class="break-anywhere">{created.endpoint.url}</strong>. It is shown only now: give it to the receiver, which checks
              the <code>Estuary-Signature</code> header of every delivery with it.
            </p>
            <div class="input-with-button">
              <label for="webhook-secret" class="visually-hidden">
                Signing secret
              </label>
              <input id="webhook-secret" class="mono" readOnly value={created.secret} data-testid="webhook-secret" />
              <CopyButton value={created.secret} what="secret" testId="copy-secret" />
            </div>
          </div>
          <DoneActions onDone={onClose} />
        </>
      ) : (
        <form onSubmit={submit} data-testid="webhook-form" noValidate>
          <FormErrors errors={errors} known={['url', 'events', 'expiringDays', 'description']} />
          <TextField label="URL" name="url" type="url" value={url} onInput={setUrl} errors={errors} required spellcheck={false}
            hint="https; plain http only to this machine (127.0.0.1, ::1, localhost) unless allowed below" />
          <CheckboxGroup<WebhookEventType> label="Events" name="events" value={events} onChange={setEvents} options={EVENT_LABELS} errors={errors} />
          <TextField label="Expiring within (days)" name="expiringDays" value={days} onInput={setDays} errors={errors} placeholder="30, 7"
            hint="for cert.expiring: each certificate is announced once per threshold; empty: the server's default" />
          <TextField label="Description" name="description" value={description} onInput={setDescription} errors={errors} />
          <CheckboxField label="Allow plain http to another host" name="allowHttp" checked={allowHttp} onChange={setAllowHttp} />
          <DialogActions testId="webhook-submit" busy={busy} onCancel={onClose}>
            Add webhook
          </DialogActions>
        </form>
      )}
    </Dialog>
  );
}
