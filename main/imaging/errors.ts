/** One place that turns any failure inside imaging into a StudioError naming the file and the reason. */
import { StudioError, type ErrorCode } from '../../preload/contract.ts';

export function imagingError(code: ErrorCode, file: string, reason: string): StudioError {
  return new StudioError(code, `${file}: ${reason}`, file);
}

/** dicom-parser throws strings and `{exception, dataSet}` objects, codecs throw wasm RuntimeErrors. */
export function reasonOf(err: unknown): string {
  if (err instanceof StudioError) return err.message;
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'exception' in err) return String((err as { exception: unknown }).exception);
  return String(err);
}

/** Re-throw a StudioError as is (it already names the file); wrap anything else as DECODE_FAILED. */
export function asImagingError(err: unknown, file: string, what = 'cannot decode'): StudioError {
  if (err instanceof StudioError) return err.subject ? err : imagingError(err.code, file, `${what}: ${err.message}`);
  return imagingError('DECODE_FAILED', file, `${what}: ${reasonOf(err)}`);
}
