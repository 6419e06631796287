export declare const BUILD_DIR: string;
export declare const BUILD_STAMP: string;
/**
 * The URL of the build's CLI module when the build under `root` is present and up to date (or just
 * present, with `anyAge`), else null.
 */
export declare function freshBuild(root: URL, anyAge?: boolean): string | null;
