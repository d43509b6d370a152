/**
 * Settings every SDK client of sluice shares. The SDK otherwise rebuilds a command's middleware
 * stack on every call; cached per command class it costs about 0.25 ms less CPU a call, for
 * clients that add no middleware to single commands (none of ours do). DynamoDB's clients are
 * left out: the document client refuses it.
 */
export const CLIENT_DEFAULTS = { cacheMiddleware: true } as const;
