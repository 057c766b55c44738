import { Type } from '@sinclair/typebox';

export const StreamHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({
      pattern: '^[0-9]{1,10}$',
      description: 'non-negative integer (the id of the last event received)',
    }),
  ),
});

export const StreamQuery = Type.Object(
  {
    lastEventId: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 2 ** 31 - 1,
        description:
          'the id of the last event received, for clients that cannot send the Last-Event-ID header; the header wins',
      }),
    ),
  },
  { additionalProperties: false },
);

/** The stream's events, for the route's description (the body is text/event-stream, not JSON). */
export const STREAM_DESCRIPTION = `Server-Sent Events (\`text/event-stream\`) of the job's life, ending after its final event.
Each event is \`id: <n>\\nevent: <type>\\ndata: <JSON>\`; every data object has \`jobId\`, stored events also \`at\` (ISO time).

| event | data | id |
| --- | --- | --- |
| \`job.status\` | \`status\`, \`message\`: every transition (queued, running, succeeded, failed, cancelled) | yes |
| \`job.progress\` | the job's \`progress\` object (task, iteration, fraction, \`etaMs\`); at most one per STREAM_PROGRESS_MS (1 s) per job, the latest value always sent | no |
| \`job.loss\` | \`task\`, \`iteration\`, \`loss\`, \`taskLoss\`, \`outputReg\`, \`driftReg\`: every LOSS_EVERY-th iteration and the last of each task | yes |
| \`job.validation\` | \`task\`, \`iteration\`, \`accuracy\` | yes |
| \`job.task_completed\` | \`task\`, \`accuracies\` (row \`task\` of the accuracy matrix), \`durationMs\`, \`msPerIteration\`; a ResNet adds \`runningStatsAccuracies\` (the row with running batch-norm statistics) | yes |
| \`job.succeeded\` | \`averageAccuracy\`, \`backwardTransfer\`, \`forgetting\`, \`taskInference\`, \`fecamTaskInference\`, \`accuracyMatrix\` (a ResNet adds \`runningStatsAverageAccuracy\`); last event | yes |
| \`job.failed\` | \`error\` {\`code\`, \`message\`}; last event | yes |
| \`job.cancelled\` | \`message\`; last event | yes |

Ids number the job's stored events 1, 2, 3, ... in the order they happened, with no gaps, in every API process.
Reconnect with \`Last-Event-ID\` (EventSource does it by itself) to get every event after that one exactly once,
then the current progress, then live events. Without it the stream starts at event 1, so a finished job's stream
replays its whole life and ends. A comment line (\`: heartbeat\`) is sent every STREAM_HEARTBEAT_MS (15 s); the key is checked
again then, and the stream ends once it has been revoked.`;
