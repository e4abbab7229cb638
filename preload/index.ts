/**
 * Electron preload: exposes the contract to the renderer as `window.studioBridge`, and nothing else.
 * Only the contract's channels and events pass; the renderer never sees ipcRenderer itself.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { CHANNELS, EVENTS, type Envelope, type EventName } from './contract.ts';

export interface StudioBridge {
  invoke(channel: string, payload: unknown): Promise<Envelope<unknown>>;
  on(event: string, listener: (payload: unknown) => void): () => void;
}

const channels = new Set<string>(CHANNELS);
const events = new Set<string>(EVENTS);

const bridge: StudioBridge = {
  invoke(channel, payload) {
    if (!channels.has(channel)) return Promise.resolve({ ok: false, error: { code: 'UNKNOWN_CHANNEL', message: `unknown channel: ${String(channel)}` } });
    return ipcRenderer.invoke(`studio:${channel}`, payload) as Promise<Envelope<unknown>>;
  },
  on(event, listener) {
    if (!events.has(event)) throw new Error(`unknown event: ${String(event)}`);
    const wrapped = (_e: IpcRendererEvent, payload: unknown) => listener(payload);
    ipcRenderer.on(`studio-event:${event as EventName}`, wrapped);
    return () => ipcRenderer.removeListener(`studio-event:${event}`, wrapped);
  },
};

contextBridge.exposeInMainWorld('studioBridge', bridge);
