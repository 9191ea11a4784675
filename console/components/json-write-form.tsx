// The console's write forms (append an event, publish a message): one text field, a JSON
// document, a button marked as a write action, and what came of it, announced.
import type { JsonValue } from 'evdb/client';
import { useState } from 'preact/hooks';
import { errorMessage, fieldText } from '../format.js';

export function JsonWriteForm(props: {
  legend: string;
  /** The text field: its form name and label (and what it starts with). */
  text: { name: string; label: string; initial?: string };
  /** The JSON document's label. */
  jsonLabel: string;
  /** The button's label, and its `data-write-action` (what tests and read-only checks find). */
  action: { label: string; name: string };
  /** Does the write; resolves with what to tell, rejects with the refusal. */
  write: (text: string, json: JsonValue) => Promise<string>;
  /** How a refusal is told (default: its code and message). */
  describeError?: (error: unknown) => string;
}): preact.JSX.Element {
  const { legend, text, jsonLabel, action, write, describeError = errorMessage } = props;
  const [result, setResult] = useState<{ text: string; error: boolean } | undefined>();
  const onSubmit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    try {
      const json = JSON.parse(fieldText(data, 'json')) as JsonValue;
      setResult({ text: await write(fieldText(data, text.name), json), error: false });
    } catch (error) {
      setResult({ text: describeError(error), error: true });
    }
  };
  return (
    <form class="append-form" onSubmit={(event) => void onSubmit(event)}>
      <fieldset>
        <legend>{legend}</legend>
        <label>
          {text.label}
          <input name={text.name} required defaultValue={text.initial} />
        </label>
        <label>
          {jsonLabel}
          <textarea name="json" rows={4} required>
            {'{}'}
          </textarea>
        </label>
        <button type="submit" data-write-action={action.name}>
          {action.label}
        </button>
        {result !== undefined && (
          <p role={result.error ? 'alert' : 'status'} class={result.error ? 'error' : ''}>
            {result.text}
          </p>
        )}
      </fieldset>
    </form>
  );
}
