/** Public API of the traffic simulator and evaluator. */
export { createSimulation, simulate, writeSimulation, allowlistHint, diurnal, DEFAULT_START } from './simulate.ts';
export type { SimulateOptions, Simulation, SimulationStats, WriteSimulationOptions, WriteSimulationResult } from './simulate.ts';
export { evaluate, formatComparison, formatReport, readAlerts, readLabels, mergeAlertVersions } from './evaluate.ts';
export type { EvaluationReport, ThreatKindRow, BenignKindRow, ActorResult, UnlabelledAlert } from './evaluate.ts';
export { naiveRateBaseline, naiveRateBaselineFile } from './baseline.ts';
export { BENIGN_KINDS, HARD_BENIGN_KINDS, THREAT_KINDS } from './labels.ts';
export type { Label, ThreatKind, BenignKind, HardBenignKind, LabelClass } from './labels.ts';
export { DEFAULT_HARD_BENIGN } from './hardBenign.ts';
export { buildCatalog, tileUrl, tileRect, descriptorUrl, cols, rows } from './catalog.ts';
export type { CatalogImage, SimProtocol } from './catalog.ts';
export { RANGES } from './agents.ts';
