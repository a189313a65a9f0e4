import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { ChatMessage } from '../../functions/lib/events/index.ts';
import { openWebUITask } from '../../functions/splitter/tasks.ts';

/** OpenWebUI 0.12.4's own task templates, copied verbatim (the fixture names its source). */
const fixture = JSON.parse(readFileSync(new URL('../fixtures/openwebui-0.12.4-task-templates.json', import.meta.url), 'utf8')) as {
  templates: Record<string, { task: string; role: 'user' | 'system'; template: string }>;
};

/** A template filled in the way OpenWebUI fills it: chat history, the prompt, today's date, tools. */
function render(template: string): string {
  return template
    .replace(/\{\{MESSAGES:END:\d+\}\}/g, 'USER: What is a monad? And write a Python function to reverse a list.\nASSISTANT: A monad is…')
    .replaceAll('{{prompt}}', 'What is a monad?')
    .replaceAll('{{PROMPT}}', 'What is a mon')
    .replaceAll('{{TYPE}}', 'General')
    .replaceAll('{{CURRENT_DATE}}', '2026-12-01')
    .replaceAll('{{TOOLS}}', '[{"name": "get_weather", "parameters": {}}]')
    .replaceAll('{{responses}}', '"Answer one" "Answer two"');
}

function messagesOf(t: { role: 'user' | 'system'; template: string }): ChatMessage[] {
  const text = render(t.template);
  // Tool choice: the template is the system message, the query the user's (utils/middleware.py).
  if (t.role === 'system') return [{ role: 'system', content: text }, { role: 'user', content: 'Query: History:\nUSER: """weather in Paris"""\nQuery: weather in Paris' }];
  return [{ role: 'user', content: text }];
}

describe('OpenWebUI background tasks are recognised', () => {
  for (const [name, t] of Object.entries(fixture.templates)) {
    test(`by the prompt form of ${name} (${t.task}), without the X-OpenWebUI-Task header`, () => {
      assert.equal(openWebUITask(undefined, messagesOf(t)), t.task);
    });
  }

  test('every task template of the pinned version is in the fixture', () => {
    assert.deepEqual(Object.values(fixture.templates).map((t) => t.task).sort(), [
      'autocomplete_generation', 'emoji_generation', 'follow_up_generation', 'function_calling', 'image_prompt_generation',
      'moa_response_generation', 'query_generation', 'tags_generation', 'title_generation',
    ]);
  });

  test('by the X-OpenWebUI-Task header, whatever the prompt', () => {
    assert.equal(openWebUITask('title_generation', [{ role: 'user', content: 'anything' }]), 'title_generation');
    assert.equal(openWebUITask(' tags_generation ', [{ role: 'user', content: 'anything' }]), 'tags_generation');
    assert.equal(openWebUITask('odd name/with spaces', [{ role: 'user', content: 'x' }]), 'odd_name_with_spaces');
  });

  test('a custom template that keeps the "### Task:" heading is still a task', () => {
    assert.equal(openWebUITask(undefined, [{ role: 'user', content: '### Task:\nName this chat in one word.' }]), 'task');
  });

  test("a user's question is not a task, and an empty header ({{TASK}} on a chat) changes nothing", () => {
    for (const content of ['What is a monad? And write a Python function to reverse a list.', 'hi', 'My task: explain ### Task: headings in markdown']) {
      assert.equal(openWebUITask(undefined, [{ role: 'user', content }]), undefined, content);
      assert.equal(openWebUITask('', [{ role: 'user', content }]), undefined, content);
    }
    // a task prompt earlier in the conversation does not make the new question a task
    const earlier: ChatMessage[] = [{ role: 'user', content: '### Task:\nsomething' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'Explain TCP.' }];
    assert.equal(openWebUITask(undefined, earlier), undefined);
  });
});
