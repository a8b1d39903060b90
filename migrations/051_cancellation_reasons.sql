-- The cancellation reason dictionaries as published (COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY,
-- COMPOSITION_CANCELLATION_REASONS_NEWBORN): codes spelled as in the source, typos included.
DELETE FROM dictionary_values
 WHERE (dictionary_name = 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY' AND code = 'OTHER')
    OR (dictionary_name = 'eHealth/COMPOSITION_CANCELLATION_REASONS_NEWBORN' AND code IN ('INCORRECT_DATA', 'OTHER'));

UPDATE dictionary_values SET description = v.description
  FROM (VALUES
    ('eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', 'INCORRECT_CATEGORY', 'Помилкове зазначення категорії'),
    ('eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', 'INCORRECT_DISABILITY_PERIOD', 'Помилкове зазначення строків непрацездатності'),
    ('eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', 'INCORRECT_PATIENT', 'Помилка ідентифікації'),
    ('eHealth/COMPOSITION_CANCELLATION_REASONS_NEWBORN', 'INCORRECT_PATIENT', 'Невірно ідентифікований пацієнт')
  ) AS v(dictionary_name, code, description)
 WHERE dictionary_values.dictionary_name = v.dictionary_name AND dictionary_values.code = v.code;

INSERT INTO dictionary_values (dictionary_name, code, description) VALUES
  ('eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', 'INCORRECT_OTHER', 'Помилкове зазначення інших відомостей'),
  ('eHealth/COMPOSITION_CANCELLATION_REASONS_NEWBORN', 'TYPO', 'Механічна помилка введення даних');
