import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { TaskService } from '../../services/task-service.js';
import { customerOf, requireCustomer, type CustomerAuth } from '../auth.js';
import type { MarketMetrics } from '../metrics.js';
import { createTaskBody, listTasksQuery, taskParams } from '../task-schemas.js';
import { taskListItem, taskView } from '../task-view.js';

export interface TaskRoutesDeps {
  tasks: TaskService;
  auth: CustomerAuth;
  metrics: MarketMetrics;
}

/** POST /tasks, GET /tasks/{task_id}, GET /tasks, DELETE /tasks/{task_id} (a draft), POST /tasks/{task_id}/submit (JSON, customer-authenticated). */
export async function taskRoutes(app: FastifyInstance, deps: TaskRoutesDeps): Promise<void> {
  requireCustomer(app, deps.auth);
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post('/tasks', { schema: { body: createTaskBody } }, async (request, reply) => {
    const task = await deps.tasks.create(customerOf(request), request.body);
    deps.metrics.tasksCreated.inc({ challenge_type: task.challengeType });
    const view = taskView(task);
    return reply.code(201).send({
      task_id: view.task_id,
      status: view.status,
      created_at: view.created_at,
      ...(task.inputKind === 'slices'
        ? { upload: { slices_url: `/tasks/${task.taskId}/slices/{n}`, submit_url: `/tasks/${task.taskId}/submit` } }
        : {}),
    });
  });

  r.get('/tasks/:task_id', { schema: { params: taskParams } }, async (request) =>
    taskView(await deps.tasks.get(customerOf(request), request.params.task_id)),
  );

  r.get('/tasks', { schema: { querystring: listTasksQuery } }, async (request) => {
    const q = request.query;
    const page = await deps.tasks.list(customerOf(request), {
      ...(q.status ? { status: q.status } : {}),
      ...(q.challenge_type ? { challengeType: q.challenge_type } : {}),
      limit: q.limit,
      offset: q.offset,
    });
    return { tasks: page.tasks.map(taskListItem), total: page.total, limit: q.limit, offset: q.offset };
  });

  r.delete('/tasks/:task_id', { schema: { params: taskParams } }, async (request) => {
    await deps.tasks.deleteDraft(customerOf(request), request.params.task_id);
    return { task_id: request.params.task_id, deleted: true };
  });

  r.post('/tasks/:task_id/submit', { schema: { params: taskParams } }, async (request) => {
    const { task, slices } = await deps.tasks.submit(customerOf(request), request.params.task_id);
    return { ...taskView({ ...task, sliceCount: slices.length }) };
  });
}
