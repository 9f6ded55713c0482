# A no-op Sidekiq job and the measurements the peer comparison takes of Sidekiq (Debian's
# ruby-sidekiq): `ruby sidekiq_noop.rb enqueue N` (one by one, then push_bulk),
# `fill N` (queue N jobs), `wait N` (after starting `sidekiq -c C -r ./sidekiq_noop.rb`: the
# processing rate from the first job done to the N-th). REDIS_URL names the Redis.
require "sidekiq"
require "sidekiq/api"
require "json"

# Debian's redis-rb 4.8 warns on every push (a deprecation inside Sidekiq 6.4's client);
# printing those would be what we measured.
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

class NoopJob
  include Sidekiq::Worker
  sidekiq_options retry: false

  def perform(*)
  end
end

# Run as a script (not as `sidekiq -r`): measure and print one JSON line.
if $PROGRAM_NAME == __FILE__
  mode = ARGV.fetch(0)
  count = Integer(ARGV.fetch(1))
  clock = -> { Process.clock_gettime(Process::CLOCK_MONOTONIC) }
  case mode
  when "enqueue"
    # One by one, then push_bulk in batches of 1,000.
    Sidekiq.redis(&:flushdb)
    started = clock.call
    count.times { NoopJob.perform_async }
    one_by_one = count / (clock.call - started)
    Sidekiq.redis(&:flushdb)
    started = clock.call
    (count / 1000).times { Sidekiq::Client.push_bulk("class" => NoopJob, "args" => Array.new(1000) { [] }) }
    bulk = (count / 1000 * 1000) / (clock.call - started)
    Sidekiq.redis(&:flushdb)
    puts JSON.generate(oneByOne: one_by_one.round, bulk: bulk.round)
  when "fill"
    Sidekiq.redis(&:flushdb)
    (count / 1000).times { Sidekiq::Client.push_bulk("class" => NoopJob, "args" => Array.new(1000) { [] }) }
    puts JSON.generate(queued: Sidekiq::Queue.new.size)
  when "wait"
    # Waits until `count` jobs have been processed; the clock starts when the first one has.
    stats = -> { Sidekiq::Stats.new.processed }
    sleep 0.001 while stats.call.zero? && Sidekiq::Queue.new.size == count
    started = clock.call
    first = stats.call
    sleep 0.002 while stats.call < count
    puts JSON.generate(jobsPerSecond: ((count - first) / (clock.call - started)).round)
  end
end
