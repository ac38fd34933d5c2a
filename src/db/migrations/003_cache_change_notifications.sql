-- Tells every listening instance what a write changed, whoever made it (psql, a migration, a batch
-- job, another service): NOTIFY is transactional, so the message goes out on commit and never for
-- a rollback. One message per statement, from its transition tables: an UPDATE of 100,000 rows is
-- one message. The API's own sessions set eventcache.writer = 'api': their writes are invalidated
-- before they answer, so they send nothing.
--
-- Payload: `<change id> <table> <I|U|D|T> <rows>`, rows being `*` (everything: a TRUNCATE, or more
-- rows than one message should carry) or a comma-separated list: event ids, or `guest:event` pairs
-- (an UPDATE lists the old and the new pair, so a guest moved between events reaches both). At
-- most 200 rows, of at most 22 characters each, keep it well under NOTIFY's 8,000 bytes.

CREATE SEQUENCE cache_change_seq;

CREATE FUNCTION cache_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  max_rows constant integer := 200;
  row_key text := CASE TG_TABLE_NAME WHEN 'events' THEN 'id::text' ELSE $k$id || ':' || event_id$k$ END;
  listed text;
  rows_listed integer;
  changed text;
BEGIN
  IF current_setting('eventcache.writer', true) = 'api' THEN
    RETURN NULL;
  END IF;

  IF TG_OP = 'TRUNCATE' THEN
    changed := '*';
  ELSE
    -- An UPDATE's two tables hold as many rows each: one of them tells whether the list is too long.
    EXECUTE format('SELECT count(*) FROM (SELECT FROM %s LIMIT %s) AS counted',
      CASE TG_OP WHEN 'DELETE' THEN 'old_rows' ELSE 'new_rows' END, max_rows + 1) INTO rows_listed;
    listed := CASE TG_OP
      WHEN 'INSERT' THEN format('SELECT %s AS row_key FROM new_rows', row_key)
      WHEN 'DELETE' THEN format('SELECT %s AS row_key FROM old_rows', row_key)
      ELSE format('SELECT %1$s AS row_key FROM old_rows UNION SELECT %1$s FROM new_rows', row_key)
    END;
    -- Reads at most one row past the limit: a statement that changed 100,000 rows reads 201.
    IF rows_listed BETWEEN 1 AND max_rows THEN
      EXECUTE format('SELECT count(*), string_agg(row_key, '','') FROM (%s LIMIT %s) AS listed', listed, max_rows + 1)
        INTO rows_listed, changed;
    END IF;
    IF rows_listed = 0 THEN
      RETURN NULL;
    ELSIF rows_listed > max_rows THEN
      changed := '*';
    END IF;
  END IF;

  PERFORM pg_notify('eventcache_changes',
    concat_ws(' ', nextval('cache_change_seq'), TG_TABLE_NAME, left(TG_OP, 1), changed));
  RETURN NULL;
END
$$;

CREATE TRIGGER events_notify_insert AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_change();
CREATE TRIGGER events_notify_update AFTER UPDATE ON events REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_change();
CREATE TRIGGER events_notify_delete AFTER DELETE ON events REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_change();
CREATE TRIGGER events_notify_truncate AFTER TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_change();

CREATE TRIGGER guests_notify_insert AFTER INSERT ON guests REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_change();
CREATE TRIGGER guests_notify_update AFTER UPDATE ON guests REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_change();
CREATE TRIGGER guests_notify_delete AFTER DELETE ON guests REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_change();
CREATE TRIGGER guests_notify_truncate AFTER TRUNCATE ON guests
  FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_change();
