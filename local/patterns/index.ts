/**
 * The EventBridge pattern matcher (DESIGN.md §7): EventBridge rules and
 * TestEventPattern use `compileEventPattern`, event source mappings
 * `compileFilterCriteria`.
 */
export { compileEventPattern, InvalidEventPatternError, type EventPattern } from './event-pattern.js';
export { compileFilterCriteria, type FilterCriteriaSource } from './filter-criteria.js';
