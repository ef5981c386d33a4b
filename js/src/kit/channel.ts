/**
 * The one request channel from a view to its widget in the kernel (Python's half:
 * `circuitwidgets/widgets/_channel.py`, where the widget names its handlers).
 *
 *     const answer = await invoke<PatternAnswer>(model, "pattern", { layer, head, run }, { signal });
 *     answer.pattern.data;        // wire arrays arrive decoded (kit/decode.ts)
 *
 * The wire form follows `anywidget.experimental.command`: custom messages
 * `{kind: "cw-request", id, name, payload}` out and `{kind: "cw-response", id, ok, response |
 * error, stale, detail}` back, with arrays as binary frames. Handled here, once:
 *
 * - **ids**: unique per page and call, so two views of one model never take each other's
 *   answers;
 * - **timeout** (default {@link DEFAULT_TIMEOUT_MS}; `0` waits for ever): rejects with a
 *   {@link RequestError} of kind `"timeout"` saying how long it waited;
 * - **abort**: the `signal` (the view's, or one per request) rejects with kind `"aborted"`;
 * - **errors**: whatever the kernel raised while answering arrives as its text (kind
 *   `"refused"`, with the handler's `detail`), and a message that cannot be sent (no kernel)
 *   as kind `"unsent"`; a request about an input since replaced rejects with kind `"stale"`;
 * - **no kernel**: a request still waiting when the view's kernel goes (kit/kernel.ts) rejects
 *   with kind `"unsent"` at once, instead of waiting for an answer that cannot come.
 *
 * Each call's `msg:custom` listener is removed when it settles, times out or is aborted.
 * Views show `error.message` for `"refused"`, `"timeout"` and `"unsent"` (see
 * {@link isQuiet}) and drop the rest.
 */
import type { AnyModel } from "@anywidget/types";
import { attachBuffers, decodeArrays } from "./decode";
import { onKernelLost } from "./kernel";

export const REQUEST = "cw-request";
export const RESPONSE = "cw-response";
/** How long a request waits for the kernel by default (a busy kernel queues requests). */
export const DEFAULT_TIMEOUT_MS = 120_000;

export type RequestErrorKind = "refused" | "stale" | "timeout" | "aborted" | "unsent";

export class RequestError extends Error {
  constructor(
    message: string,
    readonly kind: RequestErrorKind,
    readonly detail: Record<string, unknown> | null = null,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

/** True for failures a view should not show: its own abort, or an answer about an old input. */
export function isQuiet(error: unknown): boolean {
  return error instanceof RequestError && (error.kind === "aborted" || error.kind === "stale");
}

/** The text a view shows for a failed request. */
export function failureText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export interface InvokeOptions {
  signal?: AbortSignal;
  /** Milliseconds to wait for the answer ({@link DEFAULT_TIMEOUT_MS}); 0: no limit. */
  timeout?: number;
}

interface Response {
  kind?: unknown;
  id?: unknown;
  ok?: boolean;
  response?: unknown;
  error?: string;
  stale?: boolean;
  detail?: Record<string, unknown> | null;
}

const PAGE = Math.random().toString(36).slice(2, 10);
let counter = 0;

/** Ask the kernel `name` with `payload`; resolves with the handler's answer, arrays decoded. */
export function invoke<T = Record<string, unknown>>(
  model: AnyModel<any>,
  name: string,
  payload: Record<string, unknown>,
  options: InvokeOptions = {},
): Promise<T> {
  const id = `${PAGE}-${++counter}`;
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  const signal = options.signal;
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unwatch = () => {};
    const finish = () => {
      unwatch();
      model.off("msg:custom", onMessage);
      signal?.removeEventListener("abort", onAbort);
      if (timer !== undefined) clearTimeout(timer);
    };
    const fail = (error: RequestError) => {
      finish();
      reject(error);
    };
    const onAbort = () => fail(new RequestError(`the ${name} request was cancelled`, "aborted"));
    function onMessage(msg: Response, buffers: DataView[] = []) {
      if (!msg || msg.kind !== RESPONSE || msg.id !== id) return;
      finish();
      if (msg.ok) {
        try {
          resolve(decodeArrays(attachBuffers(msg.response, buffers)) as T);
        } catch (e) {
          reject(new RequestError(`the answer to ${name} could not be read: ${failureText(e)}`, "refused"));
        }
      } else {
        const kind = msg.stale ? "stale" : "refused";
        reject(new RequestError(String(msg.error ?? `the kernel could not answer ${name}`), kind, msg.detail ?? null));
      }
    }
    if (signal?.aborted) return onAbort();
    model.on("msg:custom", onMessage);
    unwatch = onKernelLost(model, () =>
      fail(new RequestError(`The kernel went away before it answered (${name}).`, "unsent")),
    );
    signal?.addEventListener("abort", onAbort);
    if (timeout > 0) {
      timer = setTimeout(
        () => fail(new RequestError(`The kernel did not answer (${name}) within ${Math.round(timeout / 1000)} s.`, "timeout")),
        timeout,
      );
    }
    try {
      model.send({ kind: REQUEST, id, name, payload });
    } catch (e) {
      fail(new RequestError(`Could not reach the kernel: ${failureText(e)}`, "unsent"));
    }
  });
}
