/**
 * Forward sync: legacy changes (`migration.<entity>.changed`, SQS with DLQ) -> conflict engine ->
 * the service tables (DynamoDB), with push-back events and parked conflicts where the engine
 * says so.
 */
import { syncHandler } from './sync-handler.js';

export const handler = syncHandler('forward');
