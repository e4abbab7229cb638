/**
 * Lists typed as one line (folders of lesion-free images, model names): comma-separated, blanks around each
 * item ignored, empty items dropped. One reading for the CLI's options and the panels' fields.
 */
export function commaList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}
