/**
 * What the service, the API and the wall ask of the alerts, whichever runs them: the single
 * engine of the embedded default (alerts/engine.ts), or cluster mode's engines per slot behind
 * one face (cluster/clusterAlerts.ts). The routes and the /ws hub are written once against it.
 */
import type { AlertEngine } from './engine.js';

export type AlertService = Pick<AlertEngine,
  | 'start' | 'stop' | 'checkpoint' | 'persistStatus'
  | 'handleAccepted' | 'handleReadings' | 'devicesChanged' | 'handleConnection'
  | 'activeAlerts' | 'activeRescueCases' | 'storeFlags' | 'blackList' | 'storeScores'
  | 'getAlert' | 'alertDetail' | 'listAlerts' | 'alertOutcomes' | 'listRescueCases' | 'getRescueCase'
  | 'act' | 'rectify' | 'recordRescueStep' | 'acknowledgeEscalation' | 'reportTrapping' | 'advanceStore'>;
