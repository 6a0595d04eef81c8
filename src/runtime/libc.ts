// libc through bun:ffi: each module declares the functions it needs, loaded once, on first use.
import { dlopen, type FFIFunction } from "bun:ffi";

/** A memoised loader of `symbols` from libc; it returns null where libc cannot be loaded (callers fall back). */
export function libcLoader<const S extends Record<string, FFIFunction>>(symbols: S) {
  let lib: ReturnType<typeof dlopen<S>>["symbols"] | null | undefined;
  return () => {
    if (lib === undefined) {
      try {
        lib = dlopen("libc.so.6", symbols).symbols;
      } catch {
        lib = null;
      }
    }
    return lib;
  };
}
