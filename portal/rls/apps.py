from django.apps import AppConfig


class RlsConfig(AppConfig):
    name = "portal.rls"
    label = "rls"
    verbose_name = "Row-level security"

    def ready(self):
        from celery.signals import task_postrun, task_prerun
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from portal.rls import checks, db  # noqa: F401 (checks registers itself)

        connection_created.connect(db.on_connection_created, dispatch_uid="portal.rls.db")
        task_prerun.connect(db.on_task_prerun, dispatch_uid="portal.rls.task_prerun")
        task_postrun.connect(db.on_task_postrun, dispatch_uid="portal.rls.task_postrun")
        pre_migrate.connect(db.on_pre_migrate, dispatch_uid="portal.rls.pre_migrate")
        post_migrate.connect(db.on_post_migrate, dispatch_uid="portal.rls.post_migrate")
