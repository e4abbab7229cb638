/**
 * The Electron shell: a hardened window wired to the services. It does no work itself; everything it
 * serves comes from `createServices`, the same object the browser host and the CLI use.
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BrowserWindow, app, dialog, ipcMain, session, shell } from 'electron';
import { CHANNELS } from '../preload/contract.ts';
import { contentSecurityPolicy } from './host/security.ts';

// The bundle lands in out/main; the sources, preload and renderer builds sit relative to it.
const here = fileURLToPath(new URL('.', import.meta.url));

const CSP = contentSecurityPolicy();

// The services are TypeScript modules run through tsx, as in the CLI and the host: one code path.
async function loadServices() {
  const root = join(here, '..', '..');
  const { register } = await import('tsx/esm/api');
  register();
  const load = (path: string) => import(/* @vite-ignore */ pathToFileURL(join(root, 'main', path)).href);
  return {
    ...((await load('services/index.ts')) as typeof import('./services/index.ts')),
    ...((await load('host/paths.ts')) as typeof import('./host/paths.ts')),
  };
}

function isStudioFrame(url: string | undefined): boolean {
  if (!url) return false;
  if (process.env.ELECTRON_RENDERER_URL) return url.startsWith(process.env.ELECTRON_RENDERER_URL);
  return url.split(/[?#]/)[0] === pathToFileURL(join(here, '..', 'renderer', 'index.html')).href;
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
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  if (process.env.ELECTRON_RENDERER_URL) await win.loadURL(process.env.ELECTRON_RENDERER_URL);
  else await win.loadFile(join(here, '..', 'renderer', 'index.html'));
  return win;
}

app.enableSandbox();
app.on('web-contents-created', (_event, contents) => {
  contents.on('will-attach-webview', (event) => event.preventDefault());
});

app.whenReady().then(async () => {
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));

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
