/** The bundled migrations, in the order `npm start` synthesizes them. */
import type { MigrationSpec } from '../lib/spec/schema.js';
import magento from './magento.js';
import menu from './menu.js';

export const migrations: readonly MigrationSpec[] = [magento, menu];
export { magento, menu };
