/** Lambda's limits on a deployment package (zip upload and unpacked size). */
export const MAX_ZIP_BYTES = 50 * 1024 * 1024;
export const MAX_UNPACKED_BYTES = 262_144_000;
/** No real function has this many files; a zip that claims more is hostile or broken. */
export const MAX_ENTRIES = 100_000;
/** Longest symlink target read from a zip (PATH_MAX). */
export const MAX_LINK_TARGET_BYTES = 4096;
/** Longest entry path and path segment accepted (PATH_MAX, NAME_MAX). */
export const MAX_PATH_BYTES = 4096;
export const MAX_SEGMENT_BYTES = 255;
