/**
 * Which links the Electron shell hands to the system browser (`shell.openExternal`). A link opens only
 * when it is https, names no credentials, uses the default port and its host is on the list below; every
 * other one is refused and logged. Pure, without `electron`, so it is unit-tested.
 */

/**
 * The hosts a link in the studio may open: the pages of the datasets the shipped models were trained on,
 * their licences, and the DICOM standard. The renderer links nowhere else today; add a host here (and
 * nowhere else) when a new kind of link is needed. Exact host names, no wildcards, and no host where anyone
 * can publish (github.com, a CDN), so a page someone else controls never qualifies.
 */
export const EXTERNAL_HOSTS: readonly string[] = [
  // Kvasir-SEG's page and licence (the kvasir-* models).
  'datasets.simula.no',
  // BUSI's page (the busi-* models).
  'scholar.cu.edu.eg',
  // Licence texts cited by datasets and model cards.
  'creativecommons.org',
  // The DICOM standard, for what a refused file's error names.
  'www.dicomstandard.org',
];

export type ExternalVerdict = { allowed: true; url: string } | { allowed: false; reason: string };

/** Whether `raw` may be opened in the system browser, and the normalised URL to open if so. */
export function externalUrlVerdict(raw: unknown, hosts: readonly string[] = EXTERNAL_HOSTS): ExternalVerdict {
  if (typeof raw !== 'string' || raw.length === 0) return { allowed: false, reason: 'not a URL' };
  if (raw.length > 2048) return { allowed: false, reason: 'URL longer than 2048 characters' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { allowed: false, reason: 'not a URL' };
  }
  if (url.protocol !== 'https:') return { allowed: false, reason: `scheme ${url.protocol} is not https:` };
  if (url.username || url.password) return { allowed: false, reason: 'URL carries credentials' };
  if (url.port !== '') return { allowed: false, reason: `port ${url.port} is not the default` };
  // URL lower-cases and punycodes the host and drops a trailing dot only sometimes: compare without it.
  const host = url.hostname.replace(/\.$/, '');
  if (!hosts.includes(host)) return { allowed: false, reason: `host ${host} is not on the allowlist` };
  return { allowed: true, url: url.href };
}

/** A line for the log that does not repeat a long or odd URL whole. */
export function describeRefusal(raw: unknown, reason: string): string {
  const shown = typeof raw === 'string' ? JSON.stringify(raw.slice(0, 200)) : typeof raw;
  return `openExternal refused ${shown}: ${reason}`;
}
