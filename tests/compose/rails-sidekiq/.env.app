# read by web and worker
RAILS_ENV=production
DATABASE_URL=postgres://postgres:rails-dev@db:5432/app
REDIS_URL=redis://redis:6379/1
export SECRET_KEY_BASE="abcdef0123456789"
