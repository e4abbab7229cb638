/**
 * One place that turns any failure inside imaging into a StudioError naming the file and the reason, and
 * the one mapping from a library's own failure text (a JavaScript TypeError inside a decoder, an Emscripten
 * exception pointer, a stack overflow on nested sequences) to words a clinician can act on. The library's
 * text is kept in `detail`, for the log; it never reaches the person as the error.
 */
import { StudioError, type ErrorCode } from '../../preload/contract.ts';

/** A StudioError with the library's own words kept for the log (`detail` does not cross the wire). */
export class ImagingError extends StudioError {
  constructor(
    code: ErrorCode,
    message: string,
    subject?: string,
    public readonly detail?: string,
  ) {
    super(code, message, subject);
  }
}

/**
 * A third-party decoder or parser failed on the data: what it said is for the log, not for the person.
 * The codec layer throws this around every call into a library (jpeg-lossless-decoder-js, the wasm
 * codecs, zlib), so a message that happens to read well is still not shown raw.
 */
export class LibraryFault extends Error {
  override name = 'LibraryFault';
  constructor(
    public readonly library: string,
    public readonly raw: string,
  ) {
    super(`${library}: ${raw}`);
  }
}

/** Runs `call` into `library`; whatever it throws becomes a LibraryFault (its name and words kept). */
export function libraryCall<T>(library: string, call: () => T): T {
  try {
    return call();
  } catch (err) {
    if (err instanceof StudioError || err instanceof LibraryFault) throw err;
    throw new LibraryFault(library, err instanceof Error && err.name !== 'Error' ? `${err.name}: ${err.message}` : reasonOf(err));
  }
}

export function imagingError(code: ErrorCode, file: string, reason: string, detail?: string): StudioError {
  return new ImagingError(code, `${file}: ${reason}`, file, detail);
}

/** dicom-parser throws strings and `{exception, dataSet}` objects, codecs throw wasm RuntimeErrors. */
export function reasonOf(err: unknown): string {
  if (err instanceof StudioError) return err.message;
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'exception' in err) return String((err as { exception: unknown }).exception);
  return String(err);
}

/** JavaScript engine and WebAssembly errors: a library's bug met by the data, never a reason in words. */
const ENGINE_ERRORS = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError', 'InternalError', 'RuntimeError', 'CompileError', 'LinkError', 'LibraryFault']);
/** The same, recognised by their words (an error that crossed a thread as text, or a library's own throw). */
const INTERNAL_TEXT = /Cannot read propert|Cannot set propert|is not a function|is not iterable|is not defined|Invalid (?:typed )?array length|Maximum call stack|too much recursion|codec error code|out of bounds|\bunreachable\b|Aborted\(|index=-?\d+|\bNaN\b|\bundefined\b/;
const STACK_OVERFLOW = /Maximum call stack size exceeded|too much recursion/;

export const DAMAGED = "the file's data are damaged; a fresh copy from the source (PACS, scanner, export) may open";
export const NESTED_TOO_DEEP = 'its data elements are nested too deeply to read: the file is damaged or was made to break readers';

/**
 * The reason to show for a failure, and the library's words to log when they are not fit to show. Errors
 * our own code raises (Error with a sentence, StudioError) keep their message and carry no detail.
 */
export function explainFailure(err: unknown): { reason: string; detail?: string } {
  if (err instanceof ImagingError) return { reason: err.message, detail: err.detail };
  if (err instanceof StudioError) return { reason: err.message };
  const raw = reasonOf(err);
  const name = err instanceof Error ? err.name : undefined;
  const detail = err instanceof LibraryFault || !name || name === 'Error' ? raw : `${name}: ${raw}`;
  if (STACK_OVERFLOW.test(raw)) return { reason: NESTED_TOO_DEEP, detail };
  // Our code throws Error objects with sentences; anything else thrown (strings, numbers, objects) is a library's.
  const thrownByLibrary = !(err instanceof Error) || !!name?.startsWith('thrown ');
  if (thrownByLibrary || (name && ENGINE_ERRORS.has(name)) || INTERNAL_TEXT.test(raw)) return { reason: DAMAGED, detail };
  return { reason: raw };
}

/** Re-throw a StudioError that names its file as is; wrap anything else (as DECODE_FAILED unless typed), naming the file. */
export function asImagingError(err: unknown, file: string, what = 'cannot decode'): StudioError {
  if (err instanceof StudioError) {
    if (err.subject) return err;
    return imagingError(err.code, file, `${what}: ${err.message}`, err instanceof ImagingError ? err.detail : undefined);
  }
  const { reason, detail } = explainFailure(err);
  return imagingError('DECODE_FAILED', file, `${what}: ${reason}`, detail);
}

/** What crosses the decoder thread for a failure: its code, words and name, and the detail to log. */
export interface FailureReply {
  code?: string;
  /** The file the error names (a StudioError's subject). */
  subject?: string;
  message: string;
  name?: string;
  detail?: string;
}

export function failureReply(err: unknown): FailureReply {
  if (err instanceof StudioError) return { code: err.code, message: err.message, ...(err.subject ? { subject: err.subject } : {}), ...(err instanceof ImagingError && err.detail ? { detail: err.detail } : {}) };
  if (err instanceof LibraryFault) return { message: err.raw, name: err.name, detail: err.library };
  if (err instanceof Error) return { message: err.message, name: err.name };
  return { message: reasonOf(err), name: `thrown ${typeof err}` };
}

/** The failure on this side of the thread, as explainFailure would have seen it there. */
export function failureFromReply(reply: FailureReply): Error {
  if (reply.code) return new ImagingError(reply.code as ErrorCode, reply.message, reply.subject, reply.detail);
  if (reply.name === 'LibraryFault') return new LibraryFault(reply.detail ?? 'a decoder', reply.message);
  const err = new Error(reply.message);
  if (reply.name) err.name = reply.name;
  return err;
}
