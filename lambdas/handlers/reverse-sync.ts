/**
 * Reverse sync: service changes (`<entity>.updated`, … from the change-capture pipe, SQS with
 * DLQ, capped concurrency) -> conflict engine -> the Magento database. A record created on the
 * service side gets a Magento key on its first sync; the key map makes the create happen once.
 */
import { syncHandler } from './sync-handler.js';

export const handler = syncHandler('reverse');
