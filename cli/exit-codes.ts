/** Exit code for usage and IO errors, shared by every command so scripts can rely on it. */
export const EXIT_USAGE = 2;
/** Exit code when a command broke for a reason other than its usage. */
export const EXIT_FAILURE = 1;
