export { inventoryConf, InventoryConfStore } from './store.js';
export type { InventoryConfOptions, ControllerKey, ExplainedVar, VarOrigin } from './store.js';
export { plugin as default } from './plugin.js';
