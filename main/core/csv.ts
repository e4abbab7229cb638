/** One CSV cell rule for every CSV the studio writes (batch results, review exports). */

/**
 * Quotes a field when it holds a comma, quote, CR or LF, or edge spaces. Text that a spreadsheet would run
 * as a formula (= + - @ after any leading whitespace, or a leading tab, CR or LF) gets a leading apostrophe.
 */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  let s = String(value);
  // Every text cell, not only free text (a store edited by hand can put a formula in a path or a model name);
  // after any leading whitespace, which spreadsheets trim before they evaluate.
  if (typeof value === 'string' && (/^\s*[=+\-@]/.test(s) || /^[\t\r\n]/.test(s))) s = `'${s}`;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
