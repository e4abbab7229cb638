/**
 * The single entry every transport (Electron IPC, the browser host) goes through: check the channel,
 * validate the payload against the contract, run the handler, and turn every failure into a typed
 * envelope. Nothing thrown by a service ever escapes to a transport as an exception.
 */
import { type Channel, type Envelope, type Handlers, type StudioErrorShape, StudioError, isChannel, validateRequest } from '../../preload/contract.ts';

export type Dispatch = (channel: string, payload: unknown) => Promise<Envelope<unknown>>;

export function toErrorShape(err: unknown): StudioErrorShape {
  if (err instanceof StudioError) return err.toJSON();
  if (err && typeof err === 'object' && 'code' in err && 'message' in err && typeof (err as StudioErrorShape).code === 'string' && /^[A-Z_]+$/.test((err as StudioErrorShape).code)) {
    const e = err as StudioErrorShape;
    return { code: e.code, message: e.message, ...(e.subject ? { subject: e.subject } : {}) };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message };
}

export function createDispatch(handlers: Handlers, log: (line: string) => void = () => {}): Dispatch {
  return async (channel, payload) => {
    if (!isChannel(channel)) return { ok: false, error: { code: 'UNKNOWN_CHANNEL', message: `unknown channel: ${String(channel).slice(0, 100)}` } };
    const valid = validateRequest(channel as Channel, payload);
    if (!valid.ok) return valid;
    try {
      const handler = handlers[channel] as (req: unknown) => Promise<unknown>;
      return { ok: true, value: await handler(valid.value) };
    } catch (err) {
      const shape = toErrorShape(err);
      if (shape.code === 'INTERNAL') log(`${channel} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return { ok: false, error: shape };
    }
  };
}
