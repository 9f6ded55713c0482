# A no-op Sidekiq job and the measurements the peer comparison takes of Sidekiq (Debian's
# ruby-sidekiq): `ruby sidekiq_noop.rb enqueue N` (one by one, then push_bulk),
# `fill N` (queue N jobs), `wait N` (after starting `sidekiq -c C -r ./sidekiq_noop.rb`: the
# processing rate until the queue is empty), `latency S` (S jobs one at a time,
# submit -> done seen by the client). REDIS_URL names the Redis.
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

# Pushes to a list the client waits on: how "done" is seen for the latency measurement, the
# same way for every peer.
class MarkJob
  include Sidekiq::Worker
  sidekiq_options retry: false

  def perform(key)
    Sidekiq.redis { |redis| redis.lpush(key, 1) }
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
    # The clock starts when the first job leaves the queue and stops when the queue is empty
    # (Sidekiq's processed counter is only written every few seconds): at most the C jobs in
    # flight are still running then, the same rule as for every peer.
    queue = Sidekiq::Queue.new
    sleep 0.001 while queue.size >= count
    started = clock.call
    first = count - queue.size
    sleep 0.002 while queue.size > 0
    puts JSON.generate(jobsPerSecond: ((count - first) / (clock.call - started)).round)
  when "latency"
    samples = Array.new(count) do |i|
      key = "bench:done:#{Process.pid}:#{i}"
      started = clock.call
      MarkJob.perform_async(key)
      abort "sidekiq: a job did not finish within 10 s" unless Sidekiq.redis { |redis| redis.blpop(key, timeout: 10) }
      (clock.call - started) * 1000
    end.sort
    pick = ->(q) { samples[[samples.size - 1, (q * samples.size).to_i].min].round(3) }
    puts JSON.generate(p50Ms: pick.call(0.5), p99Ms: pick.call(0.99), maxMs: samples.last.round(3))
  else
    abort "unknown mode #{mode}"
  end
end
