{#- A singular test: no trip in the fact table has a negative total. -#}
select trip_id, total_amount
from {{ ref('fact_trips') }}
where total_amount < 0
