// biome-ignore lint/complexity/noBannedTypes: tap merges each plugin's return type into its Test class: `{}` adds nothing, where Record<string, never> would forbid every method (tap build fails).
export declare const plugin: () => {};
