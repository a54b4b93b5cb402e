

select * from "warehouse"."analytics_staging"."stg_green_tripdata"
union all
select * from "warehouse"."analytics_staging"."stg_yellow_tripdata"