/** Copies a value to the clipboard and says so in the status region. */
import { announce } from '../status';

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // no clipboard permission (e.g. headless): fall back to a selection copy
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

export function CopyButton(props: { value: string; label?: string; what: string; testId?: string; disabled?: boolean }) {
  return (
    <button
      type="button"
      class="secondary"
      data-testid={props.testId}
      disabled={props.disabled || !props.value}
      aria-label={props.label ? undefined : `Copy ${props.what}`}
      onClick={async () => {
        if (await copyText(props.value)) announce(`${props.what} copied to the clipboard`, 'info');
        else announce(`Could not copy; select the ${props.what} and copy it by hand`, 'error');
      }}
    >
      {props.label ?? 'Copy'}
    </button>
  );
}
