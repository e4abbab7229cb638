/**
 * The Electron shell: a hardened window wired to the services. It does no work itself; everything it
 * serves comes from `createServices`, the same object the browser host and the CLI use.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserWindow, app, dialog, ipcMain, protocol, session, shell } from 'electron';
import { CHANNELS } from '../preload/contract.ts';
import { contentSecurityPolicy } from './host/security.ts';
import { describeRefusal, externalUrlVerdict } from './shell/external.ts';
import { APP_ENTRY, APP_SCHEME, contentTypeFor, isStudioPage, resolveAppPath } from './shell/protocol.ts';

// This file runs only as the bundle in out/main; the preload and renderer builds sit beside it in out/.
const here = fileURLToPath(new URL('.', import.meta.url));
const rendererRoot = join(here, '..', 'renderer');

const CSP = contentSecurityPolicy();

// The page's origin is app://studio (shell/protocol.ts), not file://. Registered before `ready`, as
// Electron requires: standard (relative URLs, an origin of its own) and secure (module scripts, no mixed
// content); no bypassCSP, no CORS or service-worker privileges.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true } }]);

// The services are the JavaScript bundled beside this file (electron.vite.config.ts: services.js,
// paths.js and one entry per worker thread): the app starts no TypeScript and ships no compiler. The CLI,
// the browser host and the tests run the same modules from source through tsx.
async function loadServices() {
  const [services, paths] = await Promise.all([import('./services/index.ts'), import('./host/paths.ts')]);
  return { ...services, ...paths };
}

/** app://studio/<path> answered from out/renderer, never from outside it, with the page's CSP. */
async function serveRenderer(request: Request): Promise<Response> {
  const file = resolveAppPath(request.url, rendererRoot);
  if (!file || request.method !== 'GET') return new Response('Not found', { status: 404 });
  try {
    const body = await readFile(file);
    return new Response(body, {
      status: 200,
      headers: {
        'Content-Type': contentTypeFor(file),
        'Content-Security-Policy': CSP,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Cross-Origin-Opener-Policy': 'same-origin',
      },
    });
  } catch {
    return new Response('Not found', { status: 404 });
  }
}

function isStudioFrame(url: string | undefined): boolean {
  return isStudioPage(url, process.env.ELECTRON_RENDERER_URL);
}

/** Links the page opens go to the system browser only when their host is on the allowlist (shell/external.ts). */
function openExternally(url: string): void {
  const verdict = externalUrlVerdict(url);
  if (verdict.allowed) void shell.openExternal(verdict.url);
  else console.warn(describeRefusal(url, verdict.reason));
}

async function createWindow(): Promise<BrowserWindow> {
  const win = new BrowserWindow({
    width: 1440,
    height: 920,
    show: false,
    title: 'Attention Studio',
    backgroundColor: '#101418',
    webPreferences: {
      preload: join(here, '..', 'preload', 'index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  // Nothing navigates away from the studio, and nothing opens new windows; links go to the system browser.
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  win.webContents.on('will-redirect', (event) => event.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    openExternally(url);
    return { action: 'deny' };
  });
  await win.loadURL(process.env.ELECTRON_RENDERER_URL ?? APP_ENTRY);
  return win;
}

app.enableSandbox();
app.on('web-contents-created', (_event, contents) => {
  contents.on('will-attach-webview', (event) => event.preventDefault());
  // Whatever web contents exist, none navigates or opens a window of its own.
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    openExternally(url);
    return { action: 'deny' };
  });
});

app.whenReady().then(async () => {
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  protocol.handle(APP_SCHEME, serveRenderer);
  // A package keeps its shipped models outside app.asar (electron-builder.yml, extraResources): onnxruntime
  // opens a model by path, which native code cannot do inside an archive.
  if (app.isPackaged && !process.env.STUDIO_MODELS_DIR) process.env.STUDIO_MODELS_DIR = join(process.resourcesPath, 'models');

  const { createServices, FolderAllowlist, guardDispatch } = await loadServices();
  const services = createServices({
    shell: 'electron',
    dialog: async ({ folders }) => {
      const focused = BrowserWindow.getFocusedWindow();
      const options: Electron.OpenDialogOptions = {
        title: folders ? 'Open a folder of studies' : 'Open images',
        properties: folders ? ['openDirectory', 'multiSelections'] : ['openFile', 'multiSelections'],
        filters: folders ? undefined : [{ name: 'Images', extensions: ['dcm', 'dicom', 'png', 'jpg', 'jpeg', 'tif', 'tiff', '*'] }],
      };
      const result = focused ? await dialog.showOpenDialog(focused, options) : await dialog.showOpenDialog(options);
      return { paths: result.canceled ? [] : result.filePaths };
    },
  });
  // The bridge follows the browser host's rule: a path a call names must lie in the studio's folders or
  // in one the user picked (host/paths.ts); a script injected into the page gets no further.
  const dispatch = guardDispatch(services.dispatch, FolderAllowlist.fromSettings(services.context.settings));
  for (const channel of CHANNELS) {
    ipcMain.handle(`studio:${channel}`, (event, payload) => {
      // Only the studio's own page may call: not a frame it might embed, not a page navigated elsewhere.
      if (!isStudioFrame(event.senderFrame?.url)) return { ok: false, error: { code: 'UNAUTHORIZED', message: 'IPC from an unexpected frame' } };
      return dispatch(channel, payload);
    });
  }
  services.events.subscribe((event, payload) => {
    for (const win of BrowserWindow.getAllWindows()) {
      if (!win.isDestroyed()) win.webContents.send(`studio-event:${event}`, payload);
    }
  });
  // Let workers, the review store and open files close before the process goes: hold the quit once.
  let closed = false;
  app.on('before-quit', (event) => {
    if (closed) return;
    event.preventDefault();
    void services.close().finally(() => {
      closed = true;
      app.quit();
    });
  });

  await createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) void createWindow();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
