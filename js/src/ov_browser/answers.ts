/**
 * Token-map answers from Python, kept per row so that showing a head again costs nothing.
 *
 * Python (circuitwidgets/widgets/_token_queries.py, `payload`) answers a question about one
 * head with one row per given token:
 *
 *     { mode, layer, head, k, given: [ids], given_strs: [...], top_strs: [[...]],
 *       top_ids: int32 [n, k], top_values: float32 [n, k] }
 *
 * A row is cached under (mode, layer, head, k, given token); {@link AnswerCache.missing} says
 * which tokens of a list still need asking, {@link AnswerCache.rows} returns the rows of a
 * list once all are there.
 */
import type { AnyModel } from "@anywidget/types";
import { failureText, invoke, RequestError } from "../kit/channel";
import { decode, type Arrayish } from "../kit/decode";
import { LRU } from "../kit/lru";

/** The three questions (TokenMap.kind in Python). */
export type Mode = "ov" | "ov_sources" | "qk";
export const MODES: readonly Mode[] = ["ov", "ov_sources", "qk"];

/** A token the user has on a list: its id and display string. */
export interface TokenRef {
  id: number;
  text: string;
}

export interface Row {
  given: TokenRef;
  top: TokenRef[];
  values: Float32Array;
}

export interface Payload {
  mode: Mode;
  layer: number;
  head: number;
  k: number;
  given: number[];
  given_strs: string[];
  top_strs: string[][];
  top_ids: Arrayish;
  top_values: Arrayish;
}

export interface Question {
  mode: Mode;
  layer: number;
  head: number;
  k: number;
}

const keyOf = (q: Question, token: number) => `${q.mode}|${q.layer}.${q.head}|${q.k}|${token}`;

export class AnswerCache {
  private readonly rowsByKey: LRU<string, Row>;

  constructor(capacity = 4096) {
    this.rowsByKey = new LRU(capacity);
  }

  get size(): number {
    return this.rowsByKey.size;
  }

  /** Store every row of an answer. */
  add(payload: Payload): void {
    const ids = decode(payload.top_ids);
    const values = decode(payload.top_values);
    const k = payload.k;
    payload.given.forEach((id, i) => {
      const top: TokenRef[] = [];
      for (let j = 0; j < k; j++) {
        top.push({ id: ids.data[i * k + j] as number, text: payload.top_strs[i]?.[j] ?? "" });
      }
      const row: Row = {
        given: { id, text: payload.given_strs[i] ?? "" },
        top,
        values: Float32Array.from(values.data.subarray(i * k, (i + 1) * k), (v) => v * values.scale),
      };
      this.rowsByKey.set(keyOf(payload, id), row);
    });
  }

  /** The tokens of `ids` that have no row yet (each once, in order). */
  missing(q: Question, ids: readonly number[]): number[] {
    return [...new Set(ids)].filter((id) => !this.rowsByKey.has(keyOf(q, id)));
  }

  /** The rows of `ids`, or null while any is missing. */
  rows(q: Question, ids: readonly number[]): Row[] | null {
    const out: Row[] = [];
    for (const id of ids) {
      const row = this.rowsByKey.peek(keyOf(q, id));
      if (!row) return null;
      out.push(row);
    }
    return out;
  }
}

/** Why Python refused a query: the message, the typed entry, its pieces (if several). */
export interface QueryFailure {
  message: string;
  entry: string | number | null;
  pieces: TokenRef[];
}

/** Ask the kernel a token-map question through the channel (its `"query"` handler); the
 * answer goes into `cache`. A refusal rejects with a {@link QueryFailure} naming the entry. */
export async function askTokenMap(
  model: AnyModel<any>,
  cache: AnswerCache,
  question: Question,
  tokens: (number | string)[],
  signal: AbortSignal,
): Promise<Payload> {
  try {
    const payload = await invoke<Payload>(model, "query", { ...question, tokens }, { signal });
    cache.add(payload);
    return payload;
  } catch (e) {
    const detail = e instanceof RequestError ? e.detail : null;
    throw {
      message: failureText(e),
      entry: (detail?.entry as string | number | null | undefined) ?? null,
      pieces: (detail?.pieces as TokenRef[] | undefined) ?? [],
    } satisfies QueryFailure;
  }
}
