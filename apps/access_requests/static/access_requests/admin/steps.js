/* Request type admin: each step row shows only the fields of its kind.
 *
 * Every step row holds a "When" fieldset (the condition, for any kind) and one fieldset per
 * kind, marked step-kind-<kind>. This shows the ones that match the row's kind select, again
 * whenever the select changes, and for rows added with "Add another" (formset:added). A new row
 * also gets the position after the last step. Inside the Action fieldset, the lines of the
 * other action kinds (a grant's duration, a delegated flow and its inputs) are hidden too.
 */
'use strict';
{
    const ROW = '.inline-related';
    // The form lines each action kind uses (the admin marks a line with field-<name>).
    const ACTION_LINES = {
        grant_resource: ['.field-duration_days', '.field-end_date_key'],
        run_delegated_flow: ['.field-flow', '.field-flow_inputs'],
    };

    function syncRow(row) {
        const select = row.querySelector('select.step-kind');
        if (!select) {
            return;
        }
        const kind = select.value;
        row.querySelectorAll('fieldset.step-fields').forEach((fieldset) => {
            const matches = fieldset.classList.contains('step-when')
                ? kind !== ''
                : fieldset.classList.contains('step-kind-' + kind);
            // A fieldset holding an error stays visible, whatever the kind.
            const show = matches || fieldset.querySelector('.errorlist') !== null;
            fieldset.classList.toggle('hidden', !show);
        });
        syncAction(row);
    }

    function syncAction(row) {
        const select = row.querySelector('select.step-action-kind');
        if (!select) {
            return;
        }
        Object.entries(ACTION_LINES).forEach(([actionKind, selectors]) => {
            selectors.forEach((selector) => {
                row.querySelectorAll(selector).forEach((line) => {
                    const lineRow = line.closest('.form-row') || line;
                    const show = actionKind === select.value
                        || lineRow.querySelector('.errorlist') !== null;
                    lineRow.classList.toggle('hidden', !show);
                });
            });
        });
    }

    function placeLast(row) {
        const input = row.querySelector('input.step-position');
        const group = row.closest('.inline-group');
        if (!input || !group) {
            return;
        }
        let last = 0;
        group.querySelectorAll('input.step-position').forEach((other) => {
            const value = parseInt(other.value, 10);
            if (other !== input && !other.closest('.empty-form') && !Number.isNaN(value)) {
                last = Math.max(last, value);
            }
        });
        input.value = last + 1;
    }

    document.addEventListener('change', (event) => {
        if (event.target.matches('select.step-kind, select.step-action-kind')) {
            syncRow(event.target.closest(ROW));
        }
    });

    document.addEventListener('formset:added', (event) => {
        const row = event.target;
        if (row.querySelector('select.step-kind')) {
            placeLast(row);
            syncRow(row);
        }
    });

    function syncAll() {
        document.querySelectorAll('select.step-kind').forEach((select) => {
            syncRow(select.closest(ROW));
        });
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', syncAll);
    } else {
        syncAll();
    }
}
