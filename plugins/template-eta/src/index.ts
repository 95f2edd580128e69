import { definePlugin } from '@fettle/core';
import { templateItem } from './item.js';

export { templateItem, templateStamp, type TemplateAttributes } from './item.js';
export { previewItem, renderTemplate, type PreviewOptions, type RenderTemplateOptions } from './preview.js';
export { helpers, type TemplateHelpers } from './helpers.js';

export default definePlugin({
  name: '@fettle/template-eta',
  version: '0.1.0',
  itemTypes: [templateItem],
});
