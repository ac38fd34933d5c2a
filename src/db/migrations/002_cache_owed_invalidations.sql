-- Invalidations that a committed write could not deliver to Redis (it was down or too slow), kept
-- where the write itself is durable: an instance that stops or dies before Redis answers again
-- cannot take them with it, and the next instance to start replays them.

CREATE TABLE cache_owed_invalidations (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  generation text        NOT NULL,
  owed_at    timestamptz NOT NULL DEFAULT now()
);
