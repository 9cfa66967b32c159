/** Checks that names in the config point at things it defines: models, sources, destinations. */
import { knownNamesHint } from './closest-name';
import type { UnplacedProblem } from './config-problem';
import { asRecord, entriesOf, namesOf } from './raw-config';

function unknownReference(
  path: (string | number)[],
  kind: string,
  plural: string,
  name: unknown,
  known: ReadonlySet<string>,
): UnplacedProblem[] {
  // A set, so checking thousands of syncs against thousands of models stays linear.
  if (typeof name !== 'string' || known.has(name)) return [];
  return [{ path, message: `unknown ${kind} '${name}'`, hint: knownNamesHint(plural, name, [...known]) }];
}

export function checkCrossReferences(config: unknown): UnplacedProblem[] {
  const problems: UnplacedProblem[] = [];
  const sources = new Set(namesOf(config, 'sources'));
  const models = new Map(entriesOf(config, 'models'));
  const modelNames = new Set(namesOf(config, 'models'));
  const destinations = new Map(entriesOf(config, 'destinations'));
  const destinationNames = new Set(namesOf(config, 'destinations'));

  for (const [name, model] of models) {
    problems.push(...unknownReference(['models', name, 'source'], 'source', 'sources', model.source, sources));
  }

  for (const [id, sync] of entriesOf(config, 'syncs')) {
    problems.push(...unknownReference(['syncs', id, 'model'], 'model', 'models', sync.model, modelNames));
    problems.push(
      ...unknownReference(
        ['syncs', id, 'destination'],
        'destination',
        'destinations',
        sync.destination,
        destinationNames,
      ),
    );

    const model = typeof sync.model === 'string' ? models.get(sync.model) : undefined;
    if (sync.changeDetection === 'cursor' && model && model.cursor === undefined) {
      problems.push({
        path: ['syncs', id, 'changeDetection'],
        message: `changeDetection: cursor needs a cursor column, and model '${String(sync.model)}' has none`,
        hint: `add e.g. cursor: updated_at to models.${String(sync.model)}, or use changeDetection: diff`,
      });
    }

    const alertTo = asRecord(sync.alert)?.destination;
    const alertPath = ['syncs', id, 'alert', 'destination'];
    problems.push(...unknownReference(alertPath, 'destination', 'destinations', alertTo, destinationNames));
    const alertType = typeof alertTo === 'string' ? destinations.get(alertTo)?.type : undefined;
    if (alertType !== undefined && alertType !== 'slack') {
      const slack = [...destinationNames].filter((name) => destinations.get(name)?.type === 'slack');
      problems.push({
        path: alertPath,
        message: `alerts are sent to a slack destination, and '${String(alertTo)}' is of type ${String(alertType)}`,
        hint: slack.length > 0 ? `slack destinations: ${slack.join(', ')}` : 'add a destination with type: slack',
      });
    }
  }
  return problems;
}
