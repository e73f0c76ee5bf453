/** A modal <dialog>: focus stays inside, Escape closes, focus returns to the opener. */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';

export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; testId?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const dialog = ref.current;
    if (dialog && !dialog.open) {
      dialog.showModal();
      // start at the first field (or the main button), not at the close button in the corner
      dialog.querySelector<HTMLElement>('form input:not([type="radio"]), form select, form textarea, input[type="radio"]:checked, .primary')?.focus();
    }
    return () => {
      if (dialog?.open) dialog.close();
      opener?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby={titleId}
      data-testid={props.testId}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <div class="dialog-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" class="icon-button" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </div>
      {props.children}
    </dialog>
  );
}

/** A dialog form's buttons: the submit button (disabled while busy), then Cancel. */
export function DialogActions(props: { testId: string; busy: boolean; onCancel: () => void; class?: string; children: ComponentChildren }) {
  return (
    <div class="form-actions">
      <button type="submit" class={props.class ?? 'primary'} disabled={props.busy} data-testid={props.testId}>
        {props.children}
      </button>
      <button type="button" class="secondary" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}

/** The one button of a dialog that shows a result: Done. */
export function DoneActions({ onDone }: { onDone: () => void }) {
  return (
    <div class="form-actions">
      <button type="button" class="primary" onClick={onDone} data-testid="dialog-done">
        Done
      </button>
    </div>
  );
}
