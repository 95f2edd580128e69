// What `z.locales` holds in the bundled zod: English only. fettle words its own messages from
// zod's issues, so the other 60-odd locales (over 40% of the bundle) would only cost every run
// their compile time. A site that wants zod's messages in another language imports the locale
// from zod itself and passes it to `z.config()`.
export { default as en } from 'zod/v4/locales/en.js';
